# The answer key: node exporter with the systemd collector, fail2ban's sshd jail reading the
# journal, and the RAID 1 array declared to mdadm. The array itself cannot exist here (no md
# driver in a container's kernel): its ARRAY line is the one mdadm --detail --scan writes.
set -e
echo 'ARGS="--collector.systemd"' > /etc/default/prometheus-node-exporter
systemctl enable --now prometheus-node-exporter

cat > /etc/fail2ban/jail.local <<'CONF'
[sshd]
enabled = true
backend = systemd
maxretry = 3
bantime = 1h
CONF
systemctl enable --now fail2ban
# fail2ban-server answers a moment after systemd says it started.
for _ in $(seq 100); do
  fail2ban-client status sshd >/dev/null 2>&1 && break
  sleep 0.1
done
fail2ban-client status sshd >/dev/null

cat > /etc/mdadm/mdadm.conf <<'CONF'
HOMEHOST <system>
MAILADDR admin@lab.example
ARRAY /dev/md0 level=raid1 num-devices=2 metadata=1.2 name=srv:0 UUID=3f2b9c1e:7a4d5e60:91b2c3d4:e5f60718
CONF
