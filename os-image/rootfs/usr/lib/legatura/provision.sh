# shellcheck shell=sh
# What the provisioning steps of every role share (sourced by gateway-provision and
# hub-provision): reading the boot credentials, saying an outcome on the console, and writing
# it for the LAN status page.

creds=/run/credentials/@system

say() { printf 'legatura: %s\n' "$*"; }

# report STATE MESSAGE: the status file the LAN status page reads, replaced whole. Printable
# ASCII only (the messages are English; a credential's odd bytes are dropped), so it is always
# valid JSON. A status that cannot be written never stops provisioning.
status_file=/run/legatura/provision.json
report() {
    text=$(printf '%s' "$2" | LC_ALL=C tr -cd ' -~' | sed 's/\\/\\\\/g; s/"/\\"/g')
    {
        mkdir -p -m 0755 "${status_file%/*}" &&
            printf '{"state":"%s","message":"%s","at_unix":%s}\n' "$1" "$text" "$(date +%s)" \
                > "$status_file.new" &&
            chmod 0644 "$status_file.new" &&
            mv -f "$status_file.new" "$status_file"
    } 2>/dev/null || true
}
# tell STATE MESSAGE: said on the console and written for the status page.
tell() {
    say "$2"
    report "$1" "$2"
}

# systemd 252 imports credentials from the kernel command line but not yet from SMBIOS (254
# does), so the SMBIOS type 11 strings are read here, the way systemd reads them: each string
# after the structure's formatted part, NUL-terminated. A binary credential comes out decoded,
# so `cred NAME > FILE` keeps its bytes.
smbios_cred() {
    [ -d /sys/firmware/dmi/entries ] || modprobe -q dmi-sysfs 2>/dev/null || true
    for raw in /sys/firmware/dmi/entries/11-*/raw; do
        [ -r "$raw" ] || continue
        len=$(od -An -tu1 -j1 -N1 "$raw" | tr -d ' ')
        tail -c +"$((len + 1))" "$raw" | tr '\0' '\n' | while IFS= read -r s; do
            case "$s" in
            "io.systemd.credential:$1="*) printf '%s\n' "${s#*=}" ;;
            "io.systemd.credential.binary:$1="*) printf '%s' "${s#*=}" | base64 -d 2>/dev/null ;;
            esac
        done
    done
}
cred() {
    if [ -r "$creds/$1" ]; then cat "$creds/$1"; else smbios_cred "$1"; fi
}

# The daemon's dynamic user must read what is written here, and this step runs before systemd
# hands the directory to that user: the files are readable by all, inside a tree that only root
# and the service can enter (/var/lib/private is 0700).
give() { chmod 0644 "$@"; }
