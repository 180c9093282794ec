#!/bin/bash
set -e

RUN_DIR=/var/vcap/sys/run/nginx
LOG_DIR=/var/vcap/sys/log/nginx
PIDFILE=${RUN_DIR}/nginx.pid

case $1 in
  start)
    mkdir -p $RUN_DIR $LOG_DIR
    chown -R vcap:vcap $RUN_DIR $LOG_DIR
    exec /usr/sbin/nginx -g "pid $PIDFILE;" -c /var/vcap/jobs/nginx/etc/nginx.conf \
      >>$LOG_DIR/stdout.log 2>>$LOG_DIR/stderr.log
    ;;
  stop)
    kill $(cat $PIDFILE)
    ;;
  *)
    echo "Usage: ctl {start|stop}"
    ;;
esac
