# Typical mistakes, each costing one task:
# - agent-inventaire held back (apt-mark hold), left at 1.0-1 (updates);
# - unattended-upgrades configured but its service left disabled (unattended-upgrades);
# - the reboot time given, but automatic reboots left off (reboot-window).
set -e
apt-get -qq -o Dir::Etc::sourcelist=sources.list.d/depot-local.list -o Dir::Etc::sourceparts=- \
  install -y --allow-downgrades agent-inventaire=1.0-1 >/dev/null
apt-mark hold agent-inventaire >/dev/null
systemctl disable --now unattended-upgrades
sed -i 's/Automatic-Reboot "true"/Automatic-Reboot "false"/' /etc/apt/apt.conf.d/52entreprise
