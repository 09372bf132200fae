"""PostgreSQL only: the locked part of a drafted step as one server-side call (steps._apply).

With 250 workers the experiment row's lock is the serial section of the whole run, and
what it was held for was mostly the client: each statement after the lock waited for its
worker to be scheduled again, take the GIL and compile the next query. Run on the server,
the same statements hold the lock for well under a millisecond (bench/README.md, scale).

Every statement in a PL/pgSQL function takes a fresh snapshot, so what it checks after the
lock is what the previous holder committed. Any check that fails raises SQLSTATE EV001 and
the whole call, counters included, is rolled back. SQLite runs the same steps in Python.
"""

from django.db import migrations

BIRTH = r"""
CREATE OR REPLACE FUNCTION evolab_birth(
    exp_id bigint, running text,
    max_individuals integer, max_flops double precision, target double precision,
    deadline timestamptz,
    plateau boolean, boost integer, boosted boolean, changed integer,
    victim bigint, died timestamptz, parent bigint,
    child jsonb, death jsonb, started jsonb
) RETURNS TABLE (
    child_id bigint, child_number integer, first_seq bigint,
    parent_weights text, parent_weights_reset boolean, parent_steps bigint
) LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    s bigint;
    cols text;
BEGIN
    -- The experiment's row lock, the next number and two event seqs, if the run may still
    -- grow: running and within every budget (docs/ALGORITHM.md section 1 [choice]).
    UPDATE experiments_experiment e SET
        individuals_created = e.individuals_created + 1,
        last_seq = e.last_seq + 2,
        boost_remaining = CASE WHEN plateau THEN boost
                               WHEN boosted AND e.boost_remaining > 0 THEN e.boost_remaining - 1
                               ELSE e.boost_remaining END,
        best_changed_at = CASE WHEN plateau THEN changed ELSE e.best_changed_at END
    WHERE e.id = exp_id AND e.status = running
      AND e.individuals_created < max_individuals
      AND (max_flops IS NULL OR e.total_flops < max_flops)
      AND (target IS NULL OR e.best_val_accuracy IS NULL OR e.best_val_accuracy < target)
      AND (deadline IS NULL OR clock_timestamp() < deadline)
    RETURNING e.individuals_created, e.last_seq INTO n, s;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'evolab: the run stopped or spent its budget' USING ERRCODE = 'EV001';
    END IF;
    -- The tournament's loser dies only if no one killed it since the draft.
    UPDATE experiments_individual SET state = 'dead', died = evolab_birth.died
    WHERE id = victim AND state = 'alive';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'evolab: the victim died since the draft' USING ERRCODE = 'EV001';
    END IF;
    IF parent IS NOT NULL THEN
        SELECT i.weights, i.weights_reset, i.steps
        INTO parent_weights, parent_weights_reset, parent_steps
        FROM experiments_individual i WHERE i.id = parent AND i.state = 'alive';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'evolab: the parent died since the draft' USING ERRCODE = 'EV001';
        END IF;
    END IF;
    -- The child: every column the caller sent (the model's fields), with its number.
    child_number := n - 1;
    child := child || jsonb_build_object('number', child_number);
    SELECT string_agg(quote_ident(k), ', ') INTO cols FROM jsonb_object_keys(child) AS k;
    EXECUTE format(
        'INSERT INTO experiments_individual (%1$s) SELECT %1$s '
        'FROM jsonb_populate_record(NULL::experiments_individual, $1) RETURNING id', cols
    ) USING child INTO child_id;
    first_seq := s - 1;
    INSERT INTO experiments_event (experiment_id, seq, kind, data, created) VALUES
        (exp_id, s - 1, 'death', death, now()),
        (exp_id, s, 'started',
         started || jsonb_build_object('id', child_id, 'number', child_number), now());
    RETURN NEXT;
END
$$;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BIRTH, params=None)  # no placeholders: %1$s is format()'s


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "DROP FUNCTION IF EXISTS evolab_birth(bigint, text, integer, double precision, "
            "double precision, timestamptz, boolean, integer, boolean, integer, bigint, "
            "timestamptz, bigint, jsonb, jsonb, jsonb)"
        )


class Migration(migrations.Migration):
    dependencies = [("experiments", "0002_timings")]

    operations = [migrations.RunPython(create, drop)]
