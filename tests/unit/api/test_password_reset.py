"""Password reset by e-mail (console backend by default)."""

import re

from django.core import mail


def test_a_reset_link_arrives_by_mail_and_sets_a_new_password(client, member):
    client.post("/accounts/password/reset/", {"email": "mia@lab.test"})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    url = form.redirect_chain[-1][0]
    data = {"new_password1": "brand-new-pw-42", "new_password2": "brand-new-pw-42"}
    assert client.post(url, data).status_code == 302
    assert client.login(username="mia", password="brand-new-pw-42")
