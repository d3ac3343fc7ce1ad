# Runs after depot-lib.sh and poste-livre.sh.
set -e
# The answer key: the updates applied, then unattended-upgrades set up.
depot_apt update
depot_apt upgrade -y >/dev/null
cat > /etc/apt/apt.conf.d/20auto-upgrades <<'CONF'
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
CONF
cat > /etc/apt/apt.conf.d/52entreprise <<'CONF'
Unattended-Upgrade::Mail "si@lab.example";
Unattended-Upgrade::Automatic-Reboot "true";
Unattended-Upgrade::Automatic-Reboot-Time "03:00";
CONF
systemctl enable --now unattended-upgrades apt-daily.timer apt-daily-upgrade.timer
