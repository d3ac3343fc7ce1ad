# Typical mistakes, each costing one task:
# - the agent left with its default collectors: no state of the services (services-metrics);
# - the sshd jail left at its defaults, 5 tries and 10 minutes (fail2ban-policy);
# - mdadm's alerts left to the local root mailbox (raid).
set -e
echo 'ARGS=""' > /etc/default/prometheus-node-exporter
systemctl restart prometheus-node-exporter
sed -i -e '/^maxretry/d' -e '/^bantime/d' /etc/fail2ban/jail.local
fail2ban-client reload >/dev/null
sed -i 's/^MAILADDR .*/MAILADDR root/' /etc/mdadm/mdadm.conf
