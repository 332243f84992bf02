#!/bin/sh
# Regenerates the real Postfix DSNs in this folder (needs root, Debian's
# postfix and python3-aiosmtpd; nothing here is needed to run the tests):
#
#   sudo mailer/bounce/testdata/postfix/generate.sh
#
# It runs a private Postfix instance (its own config and queue folders under
# a temporary directory, loopback only, no SMTP listener) and mails three
# messages whose envelope senders are VERP addresses signed with the test
# secret of bounce_test.go:
#   1.2 -> nosuchuser@herald.test  an unknown local user (local(8) bounces)
#   1.3 -> gone@remote.test        a relay that answers 550 5.1.1
#   1.4 -> full@remote.test        a relay that answers 451 4.3.0; with
#                                  maximal_queue_lifetime=0 Postfix gives up
#                                  at once (a transient failure)
# The relay and the bounce address's MTA are one capture server
# (/work/shared/tools/smtp-capture or SMTP_CAPTURE); the DSNs it receives
# for bounces+…@bounce.herald.test are copied here as unknown-user.eml,
# remote-550.eml and remote-451.eml.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
capture=${SMTP_CAPTURE:-/work/shared/tools/smtp-capture}
secret="herald-bounce-test-secret"
port=${PORT:-25871}
tmp=$(mktemp -d /tmp/herald-postfix.XXXXXX)
cap_pid=
cleanup() {
	postfix -c "$tmp/etc" stop >/dev/null 2>&1 || true
	[ -n "$cap_pid" ] && kill "$cap_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
[ -n "${KEEP:-}" ] && trap - EXIT

verp() { # mailing subscriber -> the VERP address (see verp.go)
	mac=$(printf 'verp|%s|%s' "$1" "$2" | openssl dgst -sha256 -hmac "$secret" -binary | head -c 8 | base32 | tr -d '=' | tr 'A-Z' 'a-z')
	echo "bounces+$1.$2.$mac@bounce.herald.test"
}

mkdir -p "$tmp/etc" "$tmp/spool" "$tmp/data" "$tmp/cap"
chmod 755 "$tmp"
chown postfix "$tmp/data"
cat >"$tmp/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $tmp/spool
data_directory = $tmp/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = mx.herald.test
mydomain = herald.test
myorigin = herald.test
mydestination = herald.test
alias_maps =
alias_database =
local_recipient_maps =
transport_maps = inline:{ remote.test=smtp:[127.0.0.1]:$port, bounce.herald.test=smtp:[127.0.0.1]:$port }
maximal_queue_lifetime = 0
bounce_queue_lifetime = 0
smtp_tls_security_level = none
smtp_host_lookup = native
CF
# Debian's master.cf without the SMTP listener and without chroot.
grep -v '^smtp[[:space:]]*inet' /etc/postfix/master.cf |
	awk '/^[a-z]/ && NF >= 8 { $5 = "n" } { print }' >"$tmp/etc/master.cf"
sed -i 's/^#postlog/postlog/' "$tmp/etc/master.cf"

FAIL_5XX_RCPT_REGEX='^gone@' FAIL_4XX_RCPT_REGEX='^full@' "$capture" "$port" "$tmp/cap" >"$tmp/capture.log" 2>&1 &
cap_pid=$!
sleep 1

postfix -c "$tmp/etc" check || { echo "postfix check failed" >&2; exit 1; }
postfix -c "$tmp/etc" start

send() { # mailing subscriber rcpt
	from=$(verp "$1" "$2")
	printf 'From: Blog <news@herald.test>\nTo: %s\nSubject: Hello %s\nMessage-ID: <herald.%s.%s.0000abcd@herald.test>\nDate: Sat, 28 Nov 2026 23:00:00 +0000\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nA post.\n' \
		"$3" "$3" "$1" "$2" | sendmail -C "$tmp/etc" -f "$from" "$3"
}
send 1 2 nosuchuser@herald.test
send 1 3 gone@remote.test
send 1 4 full@remote.test

# Wait for the three DSNs.
i=0
while [ "$(grep -l 'multipart/report' -r "$tmp/cap" 2>/dev/null | wc -l)" -lt 3 ]; do
	i=$((i + 1))
	if [ $i -gt 60 ]; then
		echo "generate.sh: timed out waiting for the DSNs; queue:" >&2
		postqueue -c "$tmp/etc" -p >&2 || true
		exit 1
	fi
	postqueue -c "$tmp/etc" -f 2>/dev/null || true
	sleep 1
done
for f in $(grep -l 'multipart/report' -r "$tmp/cap"); do
	case $(grep -m1 -E 'Final-Recipient' "$f") in
	*nosuchuser*) cp "$f" "$here/unknown-user.eml" ;;
	*gone*) cp "$f" "$here/remote-550.eml" ;;
	*full*) cp "$f" "$here/remote-451.eml" ;;
	esac
done
ls -l "$here"/*.eml
