"""Account pages: settings (API tokens), teams, members, invitations. Thin: look up with
team scoping (another team's team page is a 404), change state through `services`."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import services, throttle
from .forms import InviteForm, LoginForm, RoleForm, SwitchTeamForm, TeamForm, TokenForm
from .models import ApiToken, Membership, Role, Team


class LoginView(auth_views.LoginView):
    """Django's login page with the sign-in throttle: while locked, 429 with the message."""

    form_class = LoginForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "throttled"):
            response.status_code = 429
            wait = throttle.locked(self.request, form.cleaned_data.get("username"))
            response["Retry-After"] = str(wait)
        return response


class TokensRevokedContext:
    """The done pages of a password change or reset say whether API tokens were revoked."""

    def get_context_data(self, **kwargs):
        revoked = settings.EVOLAB_REVOKE_TOKENS_ON_PASSWORD_CHANGE
        return super().get_context_data(tokens_revoked=revoked, **kwargs)


class PasswordChangeDoneView(TokensRevokedContext, auth_views.PasswordChangeDoneView):
    pass


class PasswordResetCompleteView(TokensRevokedContext, auth_views.PasswordResetCompleteView):
    pass


def team_for(request: HttpRequest, pk: int, role: str = Role.VIEWER) -> Team:
    """The team if the user is in it; 404 for other teams, 403 when the role is too low."""
    team = get_object_or_404(services.teams_for(request.user), pk=pk)
    if role != Role.VIEWER and team not in services.teams_for(request.user, role):
        raise PermissionDenied(f"Only a team {role} can do this.")
    return team


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    return _render_settings(request, TokenForm())


def _render_settings(request, form, new_key: str = "", status: int = 200) -> HttpResponse:
    tokens = ApiToken.objects.filter(user=request.user)
    context = {"form": form, "tokens": tokens, "new_key": new_key}
    return render(request, "accounts/settings.html", context, status=status)


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _render_settings(request, form, status=400)
    # Rendered, not redirected: the key must not travel in a URL or sit in the session.
    _, key = services.create_token(request.user, form.cleaned_data["name"])
    response = _render_settings(request, TokenForm(), new_key=key)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    if not services.revoke_token(request.user, pk):
        get_object_or_404(ApiToken.objects.none())  # someone else's or already revoked
    messages.success(request, "Token revoked.")
    return redirect("account-settings")


@login_required
def team_list(request: HttpRequest) -> HttpResponse:
    memberships = Membership.objects.for_user(request.user).select_related("team")
    return render(
        request,
        "accounts/teams.html",
        {"memberships": memberships, "form": TeamForm(), "current": services.current_team(request)},
    )


@login_required
@require_POST
def team_create(request: HttpRequest) -> HttpResponse:
    """Anyone logged in may start a team; they become its admin."""
    form = TeamForm(request.POST)
    if not form.is_valid():
        memberships = Membership.objects.for_user(request.user).select_related("team")
        context = {"memberships": memberships, "form": form}
        return render(request, "accounts/teams.html", context, status=400)
    team = services.create_team(request.user, form.cleaned_data["name"])
    return redirect("team-detail", pk=team.pk)


@login_required
@require_POST
def team_switch(request: HttpRequest) -> HttpResponse:
    form = SwitchTeamForm(request.POST)
    team_id = form.cleaned_data["team"] if form.is_valid() else None
    services.set_current_team(request, team_id)
    target = request.POST.get("next") or reverse("experiment-list")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("experiment-list")
    return redirect(target)


@login_required
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Members of a team (anyone in it may look); admins also get the management forms."""
    return _render_team(request, team_for(request, pk))


def _render_team(request, team: Team, invite_link: str = "", status: int = 200, **forms):
    is_admin = services.role_in(request.user, team.pk) == Role.ADMIN
    context = {
        "team": team,
        "is_admin": is_admin,
        "memberships": team.memberships.select_related("user").order_by("user__username"),
        "roles": Role.choices,
        "invitations": team.invitations.filter(used=None) if is_admin else [],
        "invite_form": forms.get("invite_form") or InviteForm(initial={"role": Role.MEMBER}),
        "team_form": forms.get("team_form") or TeamForm(instance=team),
        "invite_link": invite_link,
    }
    return render(request, "accounts/team.html", context, status=status)


@login_required
@require_POST
def team_invite(request: HttpRequest, pk: int) -> HttpResponse:
    team = team_for(request, pk, Role.ADMIN)
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _render_team(request, team, status=400, invite_form=form)
    _, secret = services.invite(
        team, form.cleaned_data["role"], request.user, form.cleaned_data["days"]
    )
    link = request.build_absolute_uri(reverse("invitation-open", args=[secret]))
    response = _render_team(request, team, invite_link=link)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def team_settings(request: HttpRequest, pk: int) -> HttpResponse:
    team = team_for(request, pk, Role.ADMIN)
    form = TeamForm(request.POST, instance=Team.objects.get(pk=team.pk))
    if not form.is_valid():
        return _render_team(request, team, status=400, team_form=form)
    services.rename_team(team, form.cleaned_data["name"])
    messages.success(request, "Team renamed.")
    return redirect("team-detail", pk=team.pk)


@login_required
@require_POST
def member_role(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    team = team_for(request, pk, Role.ADMIN)
    form = RoleForm(request.POST)
    get_object_or_404(team.memberships, user_id=user_id)
    if not form.is_valid():
        messages.error(request, "Choose viewer, member or admin.")
    else:
        try:
            services.change_role(team, user_id, form.cleaned_data["role"])
        except services.TeamError as exc:
            messages.error(request, str(exc))
    return redirect("team-detail", pk=team.pk)


@login_required
@require_POST
def member_remove(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    team = team_for(request, pk, Role.ADMIN)
    get_object_or_404(team.memberships, user_id=user_id)
    try:
        services.remove_member(team, user_id)
    except services.TeamError as exc:
        messages.error(request, str(exc))
    return redirect("team-detail", pk=team.pk)


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, pk: int, invitation_id: int) -> HttpResponse:
    team = team_for(request, pk, Role.ADMIN)
    get_object_or_404(team.invitations.filter(used=None), pk=invitation_id).delete()
    return redirect("team-detail", pk=team.pk)
