# Typical mistakes: a home left readable by all, the expiry set in login.defs only (it
# applies to accounts made afterwards, not to those already there), the sudoers drop-in
# written with the default umask (0644: sudo and visudo -c refuse it).
set -euo pipefail
chmod 755 /home/bob
for u in alice bob carole; do chage -M 99999 "$u"; done
chmod 0644 /etc/sudoers.d/direction
