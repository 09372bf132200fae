// What every page does, kept out of the HTML: the Content-Security-Policy
// (evolab/security_headers.py) runs no inline script and no onclick="…" handler.
// - The header's team switcher submits its form as soon as a team is picked.
// - A form with data-confirm="question" asks before it is sent.
const teamSwitch = document.getElementById("team-switch");
teamSwitch?.addEventListener("change", () => teamSwitch.form.requestSubmit());

document.addEventListener("submit", (event) => {
  const question = event.target.dataset?.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
