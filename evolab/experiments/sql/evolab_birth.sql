-- evolab_birth: the locked part of a drafted step as one server-side call (PostgreSQL only).
-- Loaded by migrations 0005, 0007 and 0013; the Python side is
-- evolab/experiments/postgres.py, and evolab/experiments/portable.py runs the same steps as plain statements (SQLite).
--
-- Every statement in a PL/pgSQL function takes a fresh snapshot, so what it checks after the
-- lock is what the previous holder committed. Any check that fails raises SQLSTATE EV001 and
-- the whole call, counters included, is rolled back: the caller redrafts.
-- The signature before the set-point check (migration 0005), so no overload is left behind,
-- and the one whose set-point check counted the population (0007): an argument is renamed.
DROP FUNCTION IF EXISTS evolab_birth(
    bigint, text, integer, double precision, double precision, timestamptz,
    boolean, integer, boolean, integer, bigint, timestamptz, bigint, jsonb, jsonb, jsonb);
DROP FUNCTION IF EXISTS evolab_birth(
    bigint, text, integer, double precision, double precision, timestamptz,
    boolean, integer, boolean, integer, integer, bigint, timestamptz, bigint, jsonb, jsonb, jsonb);

CREATE OR REPLACE FUNCTION evolab_birth(
    exp_id bigint, running text,
    max_individuals integer, max_flops double precision, target double precision,
    deadline timestamptz,
    plateau boolean, boost integer, boosted boolean, changed integer,
    drafted_failed integer, victim bigint, died timestamptz, parent bigint,
    child jsonb, death jsonb, started jsonb
) RETURNS TABLE (
    child_id bigint, child_number integer, first_seq bigint,
    parent_weights text, parent_weights_reset boolean, parent_steps bigint
) LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    s bigint;
BEGIN
    -- The experiment's row lock, the next number and two event seqs, if the run may still
    -- grow: running and within every budget (evolab.evolution.step.budget_spent; the caller
    -- passes the individuals limit with failed children refilled), and if no child failed
    -- since the draft: a step kills only a full population, and a failure (a poison child,
    -- a corrupted parent) is the one thing that shrinks it. Killing after one would leave
    -- the run one short for good. (A count of the population here, instead of the counter,
    -- cost a quarter of the steps/s at 250 workers: bench/scale.py.)
    UPDATE experiments_experiment e SET
        individuals_created = e.individuals_created + 1,
        last_seq = e.last_seq + 2,
        boost_remaining = CASE WHEN plateau THEN boost
                               WHEN boosted AND e.boost_remaining > 0 THEN e.boost_remaining - 1
                               ELSE e.boost_remaining END,
        best_changed_at = CASE WHEN plateau THEN changed ELSE e.best_changed_at END
    WHERE e.id = exp_id AND e.status = running
      AND e.individuals_created < max_individuals
      AND e.individuals_failed = drafted_failed
      AND (max_flops IS NULL OR e.total_flops < max_flops)
      AND (target IS NULL OR e.best_val_accuracy IS NULL OR e.best_val_accuracy < target)
      AND (deadline IS NULL OR clock_timestamp() < deadline)
    RETURNING e.individuals_created, e.last_seq INTO n, s;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'evolab: the run stopped or spent its budget' USING ERRCODE = 'EV001';
    END IF;
    -- The parent, read before the kill: under aging the oldest may be the parent itself.
    IF parent IS NOT NULL THEN
        SELECT i.weights, i.weights_reset, i.steps
        INTO parent_weights, parent_weights_reset, parent_steps
        FROM experiments_individual i WHERE i.id = parent AND i.state = 'alive';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'evolab: the parent died since the draft' USING ERRCODE = 'EV001';
        END IF;
    END IF;
    -- The tournament's loser dies only if no one killed it since the draft.
    UPDATE experiments_individual SET state = 'dead', died = evolab_birth.died
    WHERE id = victim AND state = 'alive';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'evolab: the victim died since the draft' USING ERRCODE = 'EV001';
    END IF;
    -- The child: its whole row from the caller (the model's fields, in the table's own
    -- column order), with an id from the table's sequence and its number. A plain INSERT,
    -- planned once per session; no column is named, so a new model field needs no change.
    child_number := n - 1;
    child_id := nextval(pg_get_serial_sequence('experiments_individual', 'id'));
    INSERT INTO experiments_individual SELECT * FROM jsonb_populate_record(
        NULL::experiments_individual,
        child || jsonb_build_object('id', child_id, 'number', child_number)
    );
    first_seq := s - 1;
    -- Its two events; their payloads are built in Python (evolab/experiments/events.py).
    INSERT INTO experiments_event (experiment_id, seq, kind, data, created) VALUES
        (exp_id, s - 1, 'death', death, now()),
        (exp_id, s, 'started',
         started || jsonb_build_object('id', child_id, 'number', child_number), now());
    RETURN NEXT;
END
$$;
