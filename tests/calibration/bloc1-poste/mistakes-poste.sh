# Typical mistakes, each costing one task:
# - the name changed, but /etc/hosts still has no full name: hostname -f fails (hostname);
# - the admin account made without the sudo group (admin);
# - sssd.conf left world-readable: sssd refuses to start (directory).
set -e
sed -i '/pc-compta01/d' /etc/hosts
gpasswd -d admlocal sudo
chmod 0644 /etc/sssd/sssd.conf
