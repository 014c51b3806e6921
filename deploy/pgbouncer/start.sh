#!/bin/sh
# PgBouncer logs in to PostgreSQL with SCRAM, for which it needs the role's
# password in its auth file. Write that file at every start from the
# environment, readable by this user only and on a tmpfs, so the password is
# kept in deploy/.env alone (never in the repository or the image).
set -eu
umask 077
printf '"%s" "%s"\n' "${DB_USER:?}" "${DB_PASSWORD:?}" > /run/pgbouncer/userlist.txt
exec pgbouncer /etc/pgbouncer/pgbouncer.ini
