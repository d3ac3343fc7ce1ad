# The answer key of bloc4-socle-linux.
set -euo pipefail
addr=$(hostname -I | awk '{print $1}')

# A short name, and its full name in the lab's domain.
echo srv01 > /etc/hostname
hostname srv01
sed -i -E "/^${addr//./\\.}\s/d" /etc/hosts
echo "$addr srv01.lab.example srv01" >> /etc/hosts

# Root logs in with a key only (Debian's default, written down).
printf 'PermitRootLogin prohibit-password\nPasswordAuthentication no\n' > /etc/ssh/sshd_config.d/10-durcissement.conf
systemctl reload ssh

# A named admin account in sudo.
useradd -m -s /bin/bash -G sudo admin

# timesyncd on the lab's time server (it will not run in a container: enabled is what counts).
mkdir -p /etc/systemd/timesyncd.conf.d
printf '[Time]\nNTP=ntp.lab.example\n' > /etc/systemd/timesyncd.conf.d/lab.conf
systemctl enable systemd-timesyncd

# Default-drop inbound, SSH allowed, loaded at boot.
cat > /etc/nftables.conf <<'NFT'
#!/usr/sbin/nft -f
flush ruleset
table inet filter {
  chain input {
    type filter hook input priority filter; policy drop;
    iif lo accept
    ct state established,related accept
    ct state invalid drop
    ip protocol icmp accept
    tcp dport 22 accept
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
  }
  chain output {
    type filter hook output priority filter; policy accept;
  }
}
NFT
systemctl enable --now nftables

# Security updates installed unattended.
printf 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n' > /etc/apt/apt.conf.d/20auto-upgrades
systemctl enable apt-daily.timer apt-daily-upgrade.timer

# A persistent journal.
mkdir -p /var/log/journal
mkdir -p /etc/systemd/journald.conf.d
printf '[Journal]\nStorage=persistent\n' > /etc/systemd/journald.conf.d/zz-persistent.conf
systemctl restart systemd-journald
