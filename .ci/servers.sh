#!/usr/bin/env bash
# Real FTP servers on loopback for the interoperability tests (tests/integration/servers.rs),
# each on its own free port and passive range on 127.0.0.1:
# - proftpd, vsftpd, pure-ftpd and pyftpdlib, each serving plain FTP and explicit FTPS (AUTH TLS,
#   optional) on that one port, with a certificate signed by a test CA made for this run;
# - GNU inetutils ftpd and netkit ftpd (Debian `inetutils-ftpd`, `ftpd-ssl`), inetd-style
#   behind `socat TCP-LISTEN:PORT,bind=127.0.0.1,fork EXEC:...`: plain FTP only (inetutils has
#   no TLS; netkit's fails its handshake, with curl too: "sslv3 alert handshake failure").
#   They log in real system users and see the whole file system: their URLs' paths are
#   absolute paths of the served folders;
# - Twisted's FTP server and aioftp (.ci/twistedftpd.py, .ci/aioftpd.py): plain FTP only
#   (neither offers AUTH TLS).
# - SFTP: OpenSSH's sshd (internal-sftp, chrooted) and proftpd's mod_sftp, each with a password
#   login and a key-only login, both landing in `/site` (see "SFTP servers" below).
# Each server is started as the leader of its own process group (socat's per-connection
# children and the ftpds they run are in it): stop a server with `kill -- -PID`.
#
#   bash .ci/servers.sh CACHE_DIR ENV_FILE
#   bash .ci/servers.sh CACHE_DIR --install-only     (install, start nothing: bench/ftp_bench.py)
#
# CACHE_DIR keeps what is installed (extracted .debs, the pyftpdlib venv) between runs.
# Everything else of a run (CA, configurations, served folders, logs) goes into a fresh
# runtime folder under $TMPDIR (not CACHE_DIR: the servers' unprivileged users must reach the
# folders they serve, and CACHE_DIR is usually under /root). ENV_FILE receives, for .ci/run to
# source:
#   FTPSYNC_TEST_SERVERS          NAME=URL;...  one entry per server and mode: ftp:// is plain,
#                                 ftps:// explicit TLS (a name appears once per mode)
#   FTPSYNC_TEST_SERVER_ROOTS     NAME=DIR;...  the folder on disk that is "/" for that login
#   FTPSYNC_TEST_SERVER_VERSIONS  NAME=VERSION;...
#   FTPSYNC_TEST_SERVER_XFERLOGS  NAME=FILE;...  the transfer log (xferlog format) of the servers
#                                 that write one: proftpd (what verify's tests prove unread)
#   FTPSYNC_TEST_CA               PEM file of the test CA (the servers' certificates chain to it)
#   FTPSYNC_TEST_SFTP_SERVERS     NAME=sftp://USER:PASSWORD@127.0.0.1:PORT/site;...  (the password
#                                 login; names sshd, proftpd-sftp)
#   FTPSYNC_TEST_SFTP_ROOTS       NAME=DIR;...  the folder on disk that is the URL's /site
#   FTPSYNC_TEST_SFTP_KNOWN_HOSTS known_hosts file with every SFTP server's host keys
#                                 ([127.0.0.1]:PORT form)
#   FTPSYNC_TEST_SFTP_KEY_USER    NAME=USER;...  the key-only login (same /site)
#   FTPSYNC_TEST_SFTP_KEY_DIR     id_ed25519, id_rsa (no passphrase) and id_ed25519_enc (passphrase
#                                 ftpsync-test-passphrase), each authorized for the key logins
#   FTPSYNC_SERVER_PIDS           the server processes (space-separated), each the leader of its
#                                 own process group, for the caller to stop (kill -- -PID)
#   FTPSYNC_SERVER_RUNTIME        the runtime folder, for the caller to remove
#   FTPSYNC_SERVER_REMOVE         files installed outside the runtime folder for the run (may be
#                                 empty: see netkit's PAM below), for the caller to remove
# URLs carry user and password (hex, so no escaping is needed); ";" never occurs in them.
#
# Needs root (apt, system users, servers that chroot). Installs idempotently: apt packages
# proftpd-basic + proftpd-mod-crypto, socat, openssh-server + openssh-client; vsftpd, pure-ftpd, inetutils-ftpd and ftpd-ssl via
# `apt-get download` + `dpkg-deb -x` (Debian's FTP servers conflict with each other, and the
# last two pull in an inetd listening on port 21 on every interface); pyftpdlib + pyOpenSSL,
# Twisted, aioftp, each in a venv of the system Python. Creates the system user ftpsync-ci (no
# home, no shell) that logins map to, and ftpsync-ci-unix (no home, shell /bin/sh, same random
# password) for inetutils and netkit, which refuse users whose shell is not in /etc/shells.
# netkit authenticates through the PAM service "ftp" (compiled in) and needs its pam_ftp line:
# it runs in a private mount namespace that sees a copy of /etc/pam.d with the package's
# pam.d/ftp, so nothing of the host is changed; where mount namespaces are not allowed, the
# file is installed as /etc/pam.d/ftp for the run (only when no such file exists) and listed
# in FTPSYNC_SERVER_REMOVE. Creates the SFTP logins ftpsync-sftp (password) and ftpsync-sftp-key
# (keys only, same uid); sshd's chroot is made under /srv (listed in FTPSYNC_SERVER_REMOVE).
# On failure it stops what it started and prints the server's log.
set -euo pipefail

[[ $# -eq 2 ]] || { echo "usage: $0 CACHE_DIR ENV_FILE" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
cache=$(mkdir -p "$1" && cd "$1" && pwd)
env_file=$2
user=ftpsync-ci
unix_user=ftpsync-ci-unix
sftp_user=ftpsync-sftp
sftp_key_user=ftpsync-sftp-key

log() { printf '%s\n' "-- servers: $*" >&2; }
die() { printf '%s\n' "-- servers: ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Installation (serialised: two runs may share CACHE_DIR)

ensure_libs_of() { # installs the library dependencies of an extracted .deb
  local libs
  libs=$(dpkg-deb -f "$1" Depends | tr ',' '\n' | sed 's/[(|].*//; s/ //g' | grep '^lib' || true)
  [[ -z $libs ]] || apt_install $libs
}

apt_updated=
apt_install() { # installs the packages that are missing
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return
  log "apt-get install ${missing[*]}"
  if [[ -z $apt_updated ]]; then
    apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
    apt_updated=1
  fi
  # A package's maintainer script must not start its daemon on port 21.
  local policy=/usr/sbin/policy-rc.d made_policy=
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
    "${missing[@]}" >"$cache/apt.log" 2>&1 || { cat "$cache/apt.log" >&2; return 1; }
  [[ -z $made_policy ]] || rm -f "$policy"
}

# Downloads and unpacks a Debian package into CACHE_DIR/pkgs-NAME unless FILE is there already.
unpack_deb() { # PACKAGE NAME FILE
  local debs=$cache/debs-$2 pkgs=$cache/pkgs-$2
  if [[ ! -x $pkgs/$3 ]]; then
    log "apt-get download $1"
    rm -rf "$debs" "$pkgs" && mkdir -p "$debs" "$pkgs"
    if ! (cd "$debs" && apt-get download "$1" >&2 2>/dev/null); then
      apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 && apt_updated=1
      (cd "$debs" && apt-get download "$1" >&2)
    fi
    dpkg-deb -x "$debs"/*.deb "$pkgs"
  fi
  ensure_libs_of "$debs"/*.deb
}

# A venv of the system Python with PACKAGES, unless MODULES import there already.
python_venv() { # DIR MODULES PACKAGES...
  local venv=$1 modules=$2
  shift 2
  if ! "$venv/bin/python" -c "import $modules" 2>/dev/null; then
    log "pip install $* into $venv"
    rm -rf "$venv"
    # The system Python: its standard library stays readable after the server drops root.
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
  fi
}

install_all() {
  apt_install proftpd-basic proftpd-mod-crypto openssl curl python3-venv util-linux socat \
    openssh-server openssh-client
  local debs=$cache/debs pkgs=$cache/pkgs
  if [[ ! -x $pkgs/usr/sbin/vsftpd || ! -x $pkgs/usr/sbin/pure-ftpd || ! -x $pkgs/usr/bin/pure-pw ]]; then
    log "apt-get download vsftpd pure-ftpd"
    rm -rf "$debs" "$pkgs" && mkdir -p "$debs" "$pkgs"
    if ! (cd "$debs" && apt-get download vsftpd pure-ftpd >&2 2>/dev/null); then
      apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 && apt_updated=1
      (cd "$debs" && apt-get download vsftpd pure-ftpd >&2)
    fi
    for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$pkgs"; done
  fi
  for d in "$debs"/*.deb; do ensure_libs_of "$d"; done
  unpack_deb inetutils-ftpd inetutils usr/sbin/ftpd
  unpack_deb ftpd-ssl netkit usr/sbin/in.ftpd
  python_venv "$cache/pyftpdlib-venv" 'pyftpdlib, OpenSSL' pyftpdlib pyopenssl
  python_venv "$cache/twisted-venv" 'twisted.protocols.ftp' twisted
  python_venv "$cache/aioftp-venv" 'aioftp' aioftp
  # The account every login maps to (no shell; its home is "/" because vsftpd enters the home
  # before local_root). Its password is kept in CACHE_DIR so that runs sharing the cache agree
  # on it (vsftpd checks it through PAM).
  if ! id -u "$user" >/dev/null 2>&1; then
    log "creating the system user $user"
    useradd --system --user-group --no-create-home --home-dir / --shell /usr/sbin/nologin "$user"
  fi
  [[ $(getent passwd "$user" | cut -d: -f6) == / ]] || usermod --home / "$user"
  if [[ ! -s $cache/password ]]; then
    (umask 077 && openssl rand -hex 16 >"$cache/password")
  fi
  # inetutils and netkit only let in users with a shell listed in /etc/shells.
  if ! id -u "$unix_user" >/dev/null 2>&1; then
    log "creating the system user $unix_user"
    useradd --system --user-group --no-create-home --home-dir / --shell /bin/sh "$unix_user"
  fi
  # The SFTP logins (see "SFTP servers" below): a password user, and a key-only user with the
  # same uid (useradd -o), so that both write the same files in the same served folder.
  if ! id -u "$sftp_user" >/dev/null 2>&1; then
    log "creating the system user $sftp_user"
    useradd --system --user-group --no-create-home --home-dir / --shell /usr/sbin/nologin "$sftp_user"
  fi
  if ! id -u "$sftp_key_user" >/dev/null 2>&1; then
    log "creating the system user $sftp_key_user (uid of $sftp_user)"
    useradd --system --non-unique --uid "$(id -u "$sftp_user")" --gid "$(id -g "$sftp_user")" \
      --no-create-home --home-dir / --shell /usr/sbin/nologin "$sftp_key_user"
  fi
  # No password ("*" is no hash, so no password matches; "!" would lock the account for keys too).
  usermod --password '*' "$sftp_key_user"
}

exec 9>"$cache/install.lock"
flock -w 600 9 || die "another run holds $cache/install.lock"
install_all
flock -u 9
[[ $env_file == --install-only ]] && exit 0

# The logins' password, set only by a run that starts servers: an install-only run (a
# benchmark, whose servers have logins of their own) with another cache must not change the
# password under servers that are already running.
for login in "$user" "$unix_user" "$sftp_user"; do
  echo "$login:$(cat "$cache/password")" | chpasswd
done

password=$(cat "$cache/password")
uid=$(id -u "$user")
gid=$(id -g "$user")
pkgs=$cache/pkgs
venv=$cache/pyftpdlib-venv

versions=(
  "proftpd=$(dpkg-query -W -f='${Version}' proftpd-basic)"
  "vsftpd=$(dpkg-deb -f "$cache"/debs/vsftpd_*.deb Version)"
  "pure-ftpd=$(dpkg-deb -f "$cache"/debs/pure-ftpd_*.deb Version)"
  "pyftpdlib=$("$venv/bin/python" -c 'import pyftpdlib, OpenSSL; print(pyftpdlib.__ver__ + " (pyOpenSSL " + OpenSSL.__version__ + ")")')"
  "inetutils-ftpd=$(dpkg-deb -f "$cache"/debs-inetutils/*.deb Version)"
  "netkit-ftpd=$(dpkg-deb -f "$cache"/debs-netkit/*.deb Version) (Debian ftpd-ssl)"
  "twisted=$("$cache/twisted-venv/bin/python" -c 'import twisted; print(twisted.__version__)')"
  "aioftp=$("$cache/aioftp-venv/bin/python" -c 'import aioftp; print(aioftp.__version__)')"
)

# ---------------------------------------------------------------------------------------------
# The run's folder, certificates and ports

rt=$(mktemp -d "${TMPDIR:-/tmp}/ftpsync-servers.XXXXXX")
chmod 755 "$rt"
mkdir -p "$rt/tls" "$rt/srv" "$rt/log"
chmod 700 "$rt/tls"
pids=()
remove=()
started_ok=
on_exit() {
  [[ -n $started_ok ]] && return
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done
  sleep 0.2
  rm -rf "$rt" "${remove[@]}"
}
trap on_exit EXIT

log "test CA and server certificate in $rt/tls"
(
  cd "$rt/tls"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=ftpsync test CA" \
    -keyout ca-key.pem -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout key.pem -out req.pem 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >leaf.ext
  openssl x509 -req -in req.pem -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 30 -extfile leaf.ext -out cert.pem 2>/dev/null
  openssl verify -CAfile ca.pem cert.pem >/dev/null
)
# The CA is public; the clients (the tests) read it.
cp "$rt/tls/ca.pem" "$rt/ca.pem" && chmod 644 "$rt/ca.pem"
cert=$rt/tls/cert.pem
key=$rt/tls/key.pem

# Eight disjoint passive ranges of 100 ports below the kernel's ephemeral range (so the
# clients' own ports never take them), at a random place (so concurrent runs rarely meet;
# when they do, the servers just pick another port of their range). Control ports come from
# the kernel (bind to port 0), and a server that loses its port to a race is started again.
read -r eph_lo _ </proc/sys/net/ipv4/ip_local_port_range
ranges=($(/usr/bin/python3 - "$eph_lo" <<'EOF'
import random, sys
hi = int(sys.argv[1]) - 1
base = random.randrange(20000, max(20001, hi - 800))
for i in range(8):
    print(f"{base + 100 * i}:{base + 100 * i + 99}")
EOF
))
free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The control port of server NAME. netkit's ftpd opens its active-mode data connections from
# the port below its control port (RFC 959's L-1): from the kernel's ephemeral range, any
# client socket holding that port makes it wait in its bind loop (1 + 2 + ... s, up to 55 s,
# then 425). It gets a port of its passive range (which it does not use: the kernel picks its
# passive ports) whose port below is free too: both below the ephemeral range.
control_port() { # NAME LO HI
  [[ $1 == netkit-ftpd ]] || { free_port; return; }
  /usr/bin/python3 - "$2" "$3" <<'EOF'
import random, socket, sys
lo, hi = int(sys.argv[1]), int(sys.argv[2])
for port in random.sample(range(lo + 1, hi + 1), hi - lo):
    try:
        for p in (port - 1, port):
            socket.socket().bind(("127.0.0.1", p))
    except OSError:
        continue
    print(port)
    break
else:
    sys.exit(f"no free pair of ports in {lo}-{hi}")
EOF
}

# Waits (bounded) until a 220 greeting comes from the port while the process lives.
wait_ready() { # NAME PID PORT
  local i
  for i in $(seq 50); do
    kill -0 "$2" 2>/dev/null || return 1
    if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$3 && head -c 3 <&3" 2>/dev/null | grep -q 220; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# Logs in and lists the served folder (PATH: "/" or its absolute path), plain and, when the
# server offers it, with TLS verified against the CA (curl reuses TLS sessions).
smoke() { # PORT LOGIN PATH TLS(yes|no)
  curl -sS --max-time 20 --user "$2:$password" "ftp://127.0.0.1:$1$3" >/dev/null || return 1
  [[ $4 == no ]] ||
    curl -sS --max-time 20 --ssl-reqd --cacert "$rt/ca.pem" --user "$2:$password" "ftp://localhost:$1$3" >/dev/null
}

servers=() roots=()
# Starts one server: start_NAME PORT PASSIVE_LO PASSIVE_HI, run in the background by us, in a
# process group of its own (see start_in_group).
launch() { # NAME RANGE [--plain-only] [--unix-login]
  local name=$1 lo=${2%:*} hi=${2#*:} port pid attempt t0=$SECONDS tls=yes login=$user path=/ owner
  shift 2
  while [[ $# -gt 0 ]]; do
    case $1 in
      --plain-only) tls=no ;;
      # A real system user who sees the whole file system: the URL holds the folder's path.
      --unix-login) login=$unix_user path=$rt/srv/$name/ ;;
    esac
    shift
  done
  owner=$(id -u "$login"):$(id -g "$login")
  mkdir -p "$rt/srv/$name" "$rt/$name"
  chown "$owner" "$rt/srv/$name"
  for attempt in 1 2 3; do
    port=$(control_port "$name" "$lo" "$hi")
    "start_$name" "$port" "$lo" "$hi" </dev/null >>"$rt/log/$name.out" 2>&1 &
    pid=$!
    if wait_ready "$name" "$pid" "$port"; then
      pids+=("$pid")
      [[ $(ps -o pgid= -p "$pid" | tr -d ' ') == "$pid" ]] || die "$name (pid $pid) does not lead its own process group"
      if ! smoke "$port" "$login" "$path" "$tls" 2>>"$rt/log/$name.out"; then
        tail -n 40 "$rt/log/$name".* >&2 || true
        die "$name answers on port $port but login/listing failed (plain or TLS); logs above"
      fi
      servers+=("$name=ftp://$login:$password@127.0.0.1:$port$path")
      [[ $tls == no ]] || servers+=("$name=ftps://$login:$password@localhost:$port$path")
      roots+=("$name=$rt/srv/$name")
      log "$name: pid $pid, port $port, passive $lo-$hi ($((SECONDS - t0)) s)"
      return 0
    fi
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    log "$name did not come up on port $port (attempt $attempt)"
  done
  tail -n 40 "$rt/log/$name".* >&2 || true
  die "$name does not start; its log is above"
}

# ---------------------------------------------------------------------------------------------
# The servers: start_NAME runs in a background subshell of this (non-interactive) script, which
# is no process group leader, so `exec setsid` makes the server's own process the leader of a
# new group (setsid(1) forks only when called by a group leader; launch checks the outcome).

start_proftpd() { # PORT LO HI
  local dir=$rt/proftpd
  (umask 077 && echo "$user:$(openssl passwd -6 "$password"):$uid:$gid::$rt/srv/proftpd:/usr/sbin/nologin" >"$dir/ftpd.passwd")
  cat >"$dir/proftpd.conf" <<EOF
ServerName            "ftpsync test proftpd"
ServerType            standalone
DefaultServer         on
Port                  $1
DefaultAddress        127.0.0.1
SocketBindTight       on
UseIPv6               off
User                  nobody
Group                 nogroup
Umask                 022
MaxInstances          30
PidFile               $dir/proftpd.pid
ScoreboardFile        $dir/proftpd.scoreboard
DelayEngine           off
SystemLog             $rt/log/proftpd.system
TransferLog           $rt/log/proftpd.xfer
WtmpLog               off
UseReverseDNS         off
PassivePorts          $2 $3
AuthOrder             mod_auth_file.c
AuthUserFile          $dir/ftpd.passwd
RequireValidShell     off
DefaultRoot           ~
AllowOverwrite        on
TimesGMT              on
ModulePath            /usr/lib/proftpd
LoadModule            mod_site_misc.c
LoadModule            mod_tls.c
LoadModule            mod_digest.c
# Server-side hashing for ftpsync verify: FEAT HASH (draft-bryan-ftpext-hash) and XSHA256 etc.
# No digest cache: it is keyed on the file's path, size and time, so a file changed in place
# with both kept (touch -r) would be answered with its old digest.
<IfModule mod_digest.c>
  DigestEngine             on
  DigestAlgorithms         all
  DigestCache              off
</IfModule>
<IfModule mod_tls.c>
  TLSEngine                on
  TLSLog                   $rt/log/proftpd.tls
  TLSProtocol              TLSv1.2 TLSv1.3
  TLSRSACertificateFile    $cert
  TLSRSACertificateKeyFile $key
  TLSRequired              off
  TLSVerifyClient          off
</IfModule>
EOF
  exec setsid proftpd -n -q -c "$dir/proftpd.conf"
}

start_vsftpd() { # PORT LO HI
  local dir=$rt/vsftpd
  # Must be empty, owned by root and not writable by anybody else.
  mkdir -p "$dir/empty" && chmod 755 "$dir/empty"
  # pam_service_name names no file in /etc/pam.d, so PAM uses its "other" stack (pam_unix):
  # nothing is installed outside the runtime folder.
  cat >"$dir/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$1
background=NO
seccomp_sandbox=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
local_root=$rt/srv/vsftpd
chroot_local_user=YES
allow_writeable_chroot=YES
pam_service_name=ftpsync-ci-vsftpd
secure_chroot_dir=$dir/empty
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port=$2
pasv_max_port=$3
mdtm_write=YES
use_localtime=NO
xferlog_enable=YES
vsftpd_log_file=$rt/log/vsftpd.log
ssl_enable=YES
rsa_cert_file=$cert
rsa_private_key_file=$key
force_local_logins_ssl=NO
force_local_data_ssl=NO
ssl_tlsv1=YES
ssl_sslv2=NO
ssl_sslv3=NO
require_ssl_reuse=YES
ssl_ciphers=HIGH
ssl_request_cert=NO
EOF
  exec setsid "$pkgs/usr/sbin/vsftpd" "$dir/vsftpd.conf"
}

start_pure-ftpd() { # PORT LO HI
  local dir=$rt/pure-ftpd pw=$pkgs/usr/bin/pure-pw
  # The line `pure-pw useradd` writes, but with a SHA-512 crypt hash: pure-pw's argon2id takes
  # ~2 s to make and ~1.4 s at every login.
  (umask 077 && echo "$user:$(openssl passwd -6 "$password"):$uid:$gid::$rt/srv/pure-ftpd/./::::::::::::" >"$dir/pureftpd.passwd")
  "$pw" mkdb "$dir/pureftpd.pdb" -f "$dir/pureftpd.passwd"
  # -A chroot, -E no anonymous, -H no DNS, -Y 1 optional TLS, -u 1 allow system uids, -f none no syslog
  exec setsid "$pkgs/usr/sbin/pure-ftpd" -S "127.0.0.1,$1" -l "puredb:$dir/pureftpd.pdb" -A -E -H -u 1 \
    -p "$2:$3" -P 127.0.0.1 -Y 1 -2 "$cert,$key" -O "clf:$rt/log/pure-ftpd.xfer" -f none
}

start_pyftpdlib() { # PORT LO HI
  PYFTPD_PASSWORD=$password exec setsid "$venv/bin/python" "$here/pyftpd.py" --port "$1" --passive "$2-$3" \
    --user "$user" --root "$rt/srv/pyftpdlib" --cert "$cert" --key "$key" --run-as "$user"
}

start_inetutils-ftpd() { # PORT LO HI (no passive range option: the kernel picks the ports)
  # `-a default`: passwords from /etc/shadow, no PAM. socat hands each accepted connection to
  # a new ftpd as stdin/stdout (`nofork`), as inetd does, but with TCP_NODELAY (`nodelay`),
  # which inetd does not set: these ftpds write a reply in pieces, and without it every
  # exchange waits for the client's delayed ACK (an upload of the test's 333 files takes
  # 18 s instead of 3 s). That is the servers' behaviour behind a real inetd; here it would
  # only slow CI down.
  exec setsid socat "TCP-LISTEN:$1,bind=127.0.0.1,reuseaddr,backlog=64,nodelay,fork" \
    "EXEC:$cache/pkgs-inetutils/usr/sbin/ftpd -a default -t 300 -u 022,nofork"
}

# netkit's PAM service "ftp" as the package configures it, in a copy of /etc/pam.d that only
# netkit's private mount namespace sees; without mount namespaces, installed for the run.
netkit_pam() {
  local ours=$cache/pkgs-netkit/etc/pam.d/ftp
  mkdir -p "$rt/netkit/pam.d"
  cp -a /etc/pam.d/. "$rt/netkit/pam.d/" && cp "$ours" "$rt/netkit/pam.d/ftp"
  if unshare --mount --propagation private true 2>/dev/null; then
    netkit_ns=yes
  elif [[ ! -e /etc/pam.d/ftp ]]; then
    log "no mount namespaces here: installing /etc/pam.d/ftp for this run"
    cp "$ours" /etc/pam.d/ftp && remove+=(/etc/pam.d/ftp)
  elif ! cmp -s "$ours" /etc/pam.d/ftp; then
    log "no mount namespaces here and /etc/pam.d/ftp is another one: netkit uses it as it is"
  fi
}
netkit_ns=no

start_netkit-ftpd() { # PORT LO HI (no passive range option: the kernel picks the ports)
  local ftpd=$cache/pkgs-netkit/usr/sbin/in.ftpd
  # TCP_NODELAY as for inetutils (start_inetutils-ftpd).
  local listen="TCP-LISTEN:$1,bind=127.0.0.1,reuseaddr,backlog=64,nodelay,fork" run="EXEC:$ftpd -t 300 -u 022,nofork"
  if [[ $netkit_ns == yes ]]; then
    # unshare and sh exec in place: the pid stays the one launch knows.
    exec unshare --mount --propagation private sh -c \
      'mount --bind "$0" /etc/pam.d && exec setsid socat "$1" "$2"' "$rt/netkit/pam.d" "$listen" "$run"
  fi
  exec setsid socat "$listen" "$run"
}

start_twisted() { # PORT LO HI
  FTPD_PASSWORD=$password exec setsid "$cache/twisted-venv/bin/python" "$here/twistedftpd.py" --port "$1" \
    --passive "$2-$3" --user "$user" --root "$rt/srv/twisted" --run-as "$user"
}

start_aioftp() { # PORT LO HI
  FTPD_PASSWORD=$password exec setsid "$cache/aioftp-venv/bin/python" "$here/aioftpd.py" --port "$1" \
    --passive "$2-$3" --user "$user" --root "$rt/srv/aioftp" --run-as "$user"
}

netkit_pam
launch proftpd "${ranges[0]}"
launch vsftpd "${ranges[1]}"
launch pure-ftpd "${ranges[2]}"
launch pyftpdlib "${ranges[3]}"
launch inetutils-ftpd "${ranges[4]}" --plain-only --unix-login
launch netkit-ftpd "${ranges[5]}" --plain-only --unix-login
launch twisted "${ranges[6]}" --plain-only
launch aioftp "${ranges[7]}" --plain-only

# ---------------------------------------------------------------------------------------------
# SFTP servers: OpenSSH's sshd (internal-sftp, chrooted) and proftpd's mod_sftp, each on a free
# port of 127.0.0.1 with host keys made for this run. Both have the same two logins, landing in
# the folder `/site`: $sftp_user with the password (URL), and $sftp_key_user, who may only log
# in with the run's keys (id_ed25519, id_rsa and the passphrase-protected id_ed25519_enc). The
# key user has the password user's uid, so either one can change what the other wrote.

sftp_servers=() sftp_roots=() sftp_key_users=()
sftp_keys=$rt/sftp-keys
known_hosts=$rt/sftp_known_hosts
sftp_passphrase=ftpsync-test-passphrase
(
  umask 077 && mkdir -p "$sftp_keys"
  ssh-keygen -q -t ed25519 -N '' -C "ftpsync test ed25519" -f "$sftp_keys/id_ed25519"
  ssh-keygen -q -t rsa -b 3072 -N '' -C "ftpsync test rsa" -f "$sftp_keys/id_rsa"
  ssh-keygen -q -t ed25519 -N "$sftp_passphrase" -C "ftpsync test ed25519, encrypted" -f "$sftp_keys/id_ed25519_enc"
)
: >"$known_hosts" && chmod 644 "$known_hosts"

# Waits (bounded) until the port presents an SSH host key while the process lives, and adds
# the server's keys to the known_hosts file (`[127.0.0.1]:PORT TYPE KEY`).
wait_ssh() { # PID PORT
  local i keys
  for i in $(seq 50); do
    kill -0 "$1" 2>/dev/null || return 1
    keys=$(ssh-keyscan -T 2 -p "$2" 127.0.0.1 2>/dev/null | grep -v '^#' || true)
    if [[ -n $keys ]]; then
      printf '%s\n' "$keys" >>"$known_hosts"
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# Logs in with the password (curl, libssh2) and with each unencrypted key (OpenSSH's sftp,
# host key checked against the known_hosts file) and lists /site.
sftp_smoke() { # PORT
  curl -sS --max-time 20 --insecure --user "$sftp_user:$password" "sftp://127.0.0.1:$1/site/" >/dev/null || return 1
  local key
  for key in id_ed25519 id_rsa; do
    echo 'ls /site' | timeout 30 sftp -q -b - -P "$1" -i "$sftp_keys/$key" -o BatchMode=yes -o IdentitiesOnly=yes \
      -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known_hosts" -o GlobalKnownHostsFile=/dev/null \
      "$sftp_key_user@127.0.0.1" >/dev/null || { echo "key login with $key failed" >&2; return 1; }
  done
  # The password user has no key: a key login must fail (the key user's keys are not theirs).
  if echo 'ls /site' | timeout 30 sftp -q -b - -P "$1" -i "$sftp_keys/id_ed25519" -o BatchMode=yes \
    -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$known_hosts" \
    -o GlobalKnownHostsFile=/dev/null "$sftp_user@127.0.0.1" >/dev/null 2>&1; then
    echo "$sftp_user logged in with a key; only the password should work" >&2
    return 1
  fi
}

# Starts NAME (start_NAME PORT, in a process group of its own) on a free port; ROOT is the
# folder on disk that is the logins' `/site`.
launch_sftp() { # NAME ROOT
  local name=$1 root=$2 port pid attempt t0=$SECONDS
  for attempt in 1 2 3; do
    port=$(free_port)
    "start_$name" "$port" </dev/null >>"$rt/log/$name.out" 2>&1 &
    pid=$!
    if wait_ssh "$pid" "$port"; then
      pids+=("$pid")
      [[ $(ps -o pgid= -p "$pid" | tr -d ' ') == "$pid" ]] || die "$name (pid $pid) does not lead its own process group"
      if ! sftp_smoke "$port" 2>>"$rt/log/$name.out"; then
        tail -n 40 "$rt/log/$name".* >&2 || true
        die "$name answers on port $port but a login or listing failed; logs above"
      fi
      sftp_servers+=("$name=sftp://$sftp_user:$password@127.0.0.1:$port/site")
      sftp_roots+=("$name=$root")
      sftp_key_users+=("$name=$sftp_key_user")
      log "$name: pid $pid, port $port ($((SECONDS - t0)) s)"
      return 0
    fi
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    log "$name did not come up on port $port (attempt $attempt)"
  done
  tail -n 40 "$rt/log/$name".* >&2 || true
  die "$name does not start; its log is above"
}

# sshd's chroot and every folder above it must be root's and writable by nobody else, which
# rules out the runtime folder (under $TMPDIR, /tmp is world-writable): this one is under /srv,
# and removed by the caller (FTPSYNC_SERVER_REMOVE).
mkdir -p /srv
sshd_dir=$(mktemp -d /srv/ftpsync-sshd.XXXXXX)
remove+=("$sshd_dir")
chmod 755 "$sshd_dir"
mkdir -p "$sshd_dir/chroot/site" "$sshd_dir/authorized_keys" /run/sshd
chmod 755 "$sshd_dir/chroot" "$sshd_dir/authorized_keys"
chown "$sftp_user:$sftp_user" "$sshd_dir/chroot/site"
cat "$sftp_keys"/id_ed25519.pub "$sftp_keys"/id_rsa.pub "$sftp_keys"/id_ed25519_enc.pub \
  >"$sshd_dir/authorized_keys/$sftp_key_user"
chmod 644 "$sshd_dir/authorized_keys/$sftp_key_user"
ssh-keygen -q -t ed25519 -N '' -C "ftpsync test sshd" -f "$sshd_dir/host_ed25519"

start_sshd() { # PORT
  # The password user may only use the password, the key user only keys; both are chrooted
  # and get nothing but SFTP (internal-sftp: no shell, no other binary in the chroot).
  cat >"$sshd_dir/sshd_config" <<EOF
Port $1
ListenAddress 127.0.0.1
HostKey $sshd_dir/host_ed25519
PidFile none
UsePAM yes
KbdInteractiveAuthentication no
PasswordAuthentication yes
PubkeyAuthentication yes
PermitRootLogin no
AllowUsers $sftp_user $sftp_key_user
AuthorizedKeysFile $sshd_dir/authorized_keys/%u
MaxStartups 100:30:200
MaxSessions 50
UseDNS no
Subsystem sftp internal-sftp
Match User $sftp_user
  AuthenticationMethods password
  ChrootDirectory $sshd_dir/chroot
  ForceCommand internal-sftp
  AllowTcpForwarding no
  X11Forwarding no
Match User $sftp_key_user
  AuthenticationMethods publickey
  ChrootDirectory $sshd_dir/chroot
  ForceCommand internal-sftp
  AllowTcpForwarding no
  X11Forwarding no
EOF
  # -D: in the foreground, so that the pid is the listener's (its sessions call setsid and
  # end with their connections).
  exec setsid /usr/sbin/sshd -D -f "$sshd_dir/sshd_config" -E "$rt/log/sshd.log"
}

# proftpd's mod_sftp: its own logins file (both users mapped to $sftp_user's uid), chrooted
# to their home, which holds `site`.
proftpd_sftp_home=$rt/srv/proftpd-sftp
mkdir -p "$rt/proftpd-sftp" "$proftpd_sftp_home/site"
chown "$sftp_user:$sftp_user" "$proftpd_sftp_home/site"
ssh-keygen -q -t ed25519 -N '' -C "ftpsync test proftpd mod_sftp" -f "$rt/proftpd-sftp/host_ed25519"
ssh-keygen -q -t rsa -b 3072 -m PEM -N '' -C "ftpsync test proftpd mod_sftp" -f "$rt/proftpd-sftp/host_rsa"
mkdir -p "$rt/proftpd-sftp/authorized_keys"
# mod_sftp reads authorized keys in RFC 4716 form.
for k in id_ed25519 id_rsa id_ed25519_enc; do
  ssh-keygen -e -f "$sftp_keys/$k.pub"
done >"$rt/proftpd-sftp/authorized_keys/$sftp_key_user"
chmod 755 "$rt/proftpd-sftp" "$rt/proftpd-sftp/authorized_keys"
chmod 644 "$rt/proftpd-sftp/authorized_keys/$sftp_key_user"

start_proftpd-sftp() { # PORT
  local dir=$rt/proftpd-sftp sftp_uid sftp_gid
  sftp_uid=$(id -u "$sftp_user") sftp_gid=$(id -g "$sftp_user")
  (
    umask 077
    {
      echo "$sftp_user:$(openssl passwd -6 "$password"):$sftp_uid:$sftp_gid::$proftpd_sftp_home:/usr/sbin/nologin"
      echo "$sftp_key_user:*:$sftp_uid:$sftp_gid::$proftpd_sftp_home:/usr/sbin/nologin"
    } >"$dir/sftpd.passwd"
  )
  cat >"$dir/proftpd.conf" <<EOF
ServerName            "ftpsync test proftpd mod_sftp"
ServerType            standalone
DefaultServer         on
Port                  $1
DefaultAddress        127.0.0.1
SocketBindTight       on
UseIPv6               off
User                  nobody
Group                 nogroup
Umask                 022
MaxInstances          60
PidFile               $dir/proftpd.pid
ScoreboardFile        $dir/proftpd.scoreboard
DelayEngine           off
SystemLog             $rt/log/proftpd-sftp.system
TransferLog           $rt/log/proftpd-sftp.xfer
WtmpLog               off
UseReverseDNS         off
AuthOrder             mod_auth_file.c
AuthUserFile          $dir/sftpd.passwd
RequireValidShell     off
DefaultRoot           ~
AllowOverwrite        on
TimesGMT              on
ModulePath            /usr/lib/proftpd
LoadModule            mod_sftp.c
<IfModule mod_sftp.c>
  SFTPEngine               on
  SFTPLog                  $rt/log/proftpd-sftp.sftp
  SFTPHostKey              $dir/host_ed25519
  SFTPHostKey              $dir/host_rsa
  SFTPAuthorizedUserKeys   file:$dir/authorized_keys/%u
  SFTPCompression          delayed
  SFTPOptions              IgnoreSFTPSetOwners
</IfModule>
<Limit LOGIN>
  AllowUser $sftp_user
  AllowUser $sftp_key_user
</Limit>
EOF
  exec setsid proftpd -n -q -c "$dir/proftpd.conf"
}

launch_sftp sshd "$sshd_dir/chroot/site"
launch_sftp proftpd-sftp "$proftpd_sftp_home/site"
versions+=(
  "sshd=$(dpkg-query -W -f='${Version}' openssh-server)"
  "proftpd-sftp=$(dpkg-query -W -f='${Version}' proftpd-mod-crypto) (mod_sftp)"
)

join() { local IFS=';'; echo "$*"; }
tmp_env=$env_file.tmp
{
  echo "# written by .ci/servers.sh on $(date -u +%FT%TZ)"
  echo "export FTPSYNC_TEST_SERVERS='$(join "${servers[@]}")'"
  echo "export FTPSYNC_TEST_SERVER_ROOTS='$(join "${roots[@]}")'"
  echo "export FTPSYNC_TEST_SERVER_VERSIONS='$(join "${versions[@]}")'"
  echo "export FTPSYNC_TEST_SERVER_XFERLOGS='proftpd=$rt/log/proftpd.xfer'"
  echo "export FTPSYNC_TEST_CA='$rt/ca.pem'"
  echo "export FTPSYNC_TEST_SFTP_SERVERS='$(join "${sftp_servers[@]}")'"
  echo "export FTPSYNC_TEST_SFTP_ROOTS='$(join "${sftp_roots[@]}")'"
  echo "export FTPSYNC_TEST_SFTP_KNOWN_HOSTS='$known_hosts'"
  echo "export FTPSYNC_TEST_SFTP_KEY_USER='$(join "${sftp_key_users[@]}")'"
  echo "export FTPSYNC_TEST_SFTP_KEY_DIR='$sftp_keys'"
  echo "FTPSYNC_SERVER_PIDS='${pids[*]}'"
  echo "FTPSYNC_SERVER_RUNTIME='$rt'"
  echo "FTPSYNC_SERVER_REMOVE='${remove[*]}'"
} >"$tmp_env"
mv "$tmp_env" "$env_file"
started_ok=1
log "all servers up"
