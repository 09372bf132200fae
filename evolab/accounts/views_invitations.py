"""Following an invitation link: join the team, creating an account first if needed.

The link's secret moves from the URL into the session at once (as Django's password reset
does), so it does not linger in the address bar, the Referer header or the history.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from . import services
from .forms import SignupForm

SESSION_KEY = "evolab.invitation"


def invitation_open(request: HttpRequest, secret: str) -> HttpResponse:
    request.session[SESSION_KEY] = secret
    return redirect("invitation")


def invitation(request: HttpRequest) -> HttpResponse:
    secret = request.session.get(SESSION_KEY, "")
    pending = services.open_invitation(secret)
    if pending is None:
        request.session.pop(SESSION_KEY, None)
        return render(request, "accounts/invitation.html", {"invalid": True}, status=404)
    form = SignupForm(request.POST or None) if not request.user.is_authenticated else None
    if request.method == "POST":
        if form is not None:
            if not form.is_valid():
                return _render(request, pending, form, status=400)
            user = form.save()
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return _accept(request, secret)
    return _render(request, pending, form)


def _render(request, pending, form, status: int = 200) -> HttpResponse:
    context = {"invitation": pending, "form": form}
    return render(request, "accounts/invitation.html", context, status=status)


def _accept(request: HttpRequest, secret: str) -> HttpResponse:
    membership = services.accept_invitation(secret, request.user)
    request.session.pop(SESSION_KEY, None)
    if membership is None:
        return render(request, "accounts/invitation.html", {"invalid": True}, status=404)
    services.set_current_team(request, membership.team_id)
    messages.success(request, f"You joined {membership.team} as {membership.role}.")
    return redirect("experiment-list")


def signup(request: HttpRequest) -> HttpResponse:
    """Open sign-up, only where EVOLAB_OPEN_SIGNUP is on; new users join no team."""
    if not settings.EVOLAB_OPEN_SIGNUP:
        raise Http404("Accounts are made by an admin or by invitation.")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.save(), backend="django.contrib.auth.backends.ModelBackend")
        return redirect("team-list")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/signup.html", {"form": form}, status=status)
