#!/bin/sh
# Runs appd under spawn-fcgi -n: spawn-fcgi binds the FastCGI unix socket, gives it its
# owner and mode, and exec's appd with the listening socket on fd 0; appd (the same pid)
# then runs its own manager and workers on that socket.
#
# Usage: scripts/spawn-fcgi.sh            (configured by the environment, as appd is)
#   APPD_BIN           the appd binary (default: build/appd of this repository)
#   APPD_SOCKET        socket path (default: var/run/appd.sock of this repository)
#   APPD_SOCKET_MODE   socket permission bits, octal (default 0660: owner and group may
#                      connect; Nginx's www-data workers need one of the two)
#   APPD_SOCKET_USER   socket owner (default: unchanged, i.e. the user running this)
#   APPD_SOCKET_GROUP  socket group (default www-data, so Nginx may connect)
#   APPD_BACKLOG       listen(2) backlog (default 1024)
# Owner and group can only be changed as root; otherwise they are left alone.
# Every other APPD_* variable goes to appd unchanged (APPD_WORKERS, APPD_DATABASE_URL, ...).
#
# Why -n: spawn-fcgi stays in the foreground and becomes appd (exec), so a supervisor
# (supervisord's [program:appd-spawn] in scripts/supervisord.conf.in, runit, systemd)
# watches appd itself and its signals reach appd: SIGTERM = graceful stop (in-flight
# requests finish, APPD_STOP_TIMEOUT 8 s, shorter than supervisord's 10 s stopwaitsecs),
# SIGHUP = zero-downtime reload (re-exec on the same socket), SIGUSR1 = reopen log files,
# SIGQUIT = immediate stop. Without -n spawn-fcgi forks, sends appd's stdout/stderr to
# /dev/null and never restarts it; -F (fork several) does not combine with -n and is not
# needed: appd forks and respawns its workers itself.
#
# spawn-fcgi connect()s to an existing socket first and refuses to start if a live server
# answers there; a stale socket file is replaced. The socket file is left behind on exit
# (appd did not create it, so it does not remove it).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd -P)
: "${APPD_BIN:=$root/build/appd}"
: "${APPD_SOCKET:=$root/var/run/appd.sock}"
: "${APPD_SOCKET_MODE:=0660}"
: "${APPD_SOCKET_USER:=}"
: "${APPD_SOCKET_GROUP:=www-data}"
: "${APPD_BACKLOG:=1024}"

command -v spawn-fcgi >/dev/null 2>&1 || {
	echo "spawn-fcgi.sh: spawn-fcgi is not installed (scripts/deps installs it)" >&2
	exit 1
}
[ -x "$APPD_BIN" ] || {
	echo "spawn-fcgi.sh: $APPD_BIN is not an executable file (make, or set APPD_BIN)" >&2
	exit 1
}

set -- -n -s "$APPD_SOCKET" -M "$APPD_SOCKET_MODE" -b "$APPD_BACKLOG"
if [ "$(id -u)" = 0 ]; then
	[ -z "$APPD_SOCKET_USER" ] || set -- "$@" -U "$APPD_SOCKET_USER"
	[ -z "$APPD_SOCKET_GROUP" ] || set -- "$@" -G "$APPD_SOCKET_GROUP"
fi
exec spawn-fcgi "$@" -- "$APPD_BIN"
