#!/bin/sh
# mysqlfailover with sengu's hooks: the exact command line (MySQL Utilities 1.6.5).
#
# The hooks are bare executable paths: mysqlfailover refuses anything else, passes them only
# positional addresses, and throws their output away unless --verbose. Their settings come from
# the environment (sengu.env) and /etc/sengu/sengu.toml; what they did is in the action log.
# Leave --script-threshold unset: 1.6.5 ignores the hooks' exit codes anyway, and 1.6.4 and
# older would abort a failover half-way.
#
# The connection strings use login paths (mysql_config_editor) so that no password is on argv.
set -eu

set -a
. /etc/sengu/sengu.env
set +a

exec mysqlfailover \
    --master=failover@10.0.0.11:3306 \
    --discover-slaves-login=failover \
    --candidates=failover@10.0.0.12:3306 \
    --rpl-user=repl \
    --failover-mode=auto \
    --interval=15 \
    --exec-fail-check=/usr/bin/mysql-fail-check \
    --exec-before=/usr/bin/mysql-before-exec \
    --exec-after=/usr/bin/mysql-after-exec \
    --log=/var/log/mysqlfailover.log \
    --log-age=30 \
    --daemon=nodetach \
    --verbose
