"""The gateway's own state in SQL: engine factory, models, migrations, repositories.

SQLite (aiosqlite) is the embedded default; Postgres (asyncpg) is production,
where each deployment (or test run) lives in its own schema on ``search_path``.
"""
