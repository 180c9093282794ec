#!/bin/bash
# Starts and stops nginx for the nginx job, from the release's nginx package.
set -eu
run_dir=/var/vcap/sys/run/nginx
log_dir=/var/vcap/sys/log/nginx
data_dir=/var/vcap/data/nginx
pidfile=$run_dir/nginx.pid
mkdir -p "$run_dir" "$log_dir" "$data_dir"
exec >>"$log_dir/ctl.stdout.log" 2>>"$log_dir/ctl.stderr.log"

nginx=/var/vcap/packages/nginx/sbin/nginx
case "${1:-}" in
    start)
        # -e and -p keep nginx's own files (error log, temp dirs) under /var/vcap, not the host's /var.
        "$nginx" -e "$log_dir/error.log" -p "$data_dir/" -c /var/vcap/jobs/nginx/etc/nginx.conf \
            -g "pid $pidfile;"
        ;;
    stop)
        if [ -s "$pidfile" ]; then
            kill -QUIT "$(cat "$pidfile")" 2>/dev/null || true
        fi
        rm -f "$pidfile"
        ;;
    *)
        echo "usage: ctl start|stop" >&2
        exit 1
        ;;
esac
