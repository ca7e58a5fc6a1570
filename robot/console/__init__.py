"""The officers' console: accounts and roles (`roles.py`, `credentials.py`, `sessions.py`,
`auth.py`, `users.py` for `robot users`), and the server-rendered pages (`layout.py`,
`login.py`, `queue.py`, `warning_page.py`, `users_page.py`, `audit_page.py`), mounted on the
API's app by `app.py`; the supervisors' dashboard and scripts pages (`dashboard.py`, `stats.py`,
`charts.py`). Strings shown to people come from `locales/*.json`."""
