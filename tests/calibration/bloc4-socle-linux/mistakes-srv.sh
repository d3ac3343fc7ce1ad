# Typical mistakes: the admin account made without its group, timesyncd configured but
# never enabled, the firewall loaded by hand but not at boot.
set -euo pipefail
gpasswd -d admin sudo
systemctl disable systemd-timesyncd
systemctl disable nftables
