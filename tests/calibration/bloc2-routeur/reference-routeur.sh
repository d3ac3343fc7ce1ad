# The answer key on the router: two addresses, forwarding kept in sysctl.d, NAT masquerade
# in /etc/nftables.conf, the static route to the remote site.
set -e
ip addr add 192.168.50.1/24 dev eth0
ip addr add 203.0.113.2/29 dev eth0
ip route add 172.16.20.0/24 via 203.0.113.3
echo 'net.ipv4.ip_forward=1' > /etc/sysctl.d/routage.conf
sysctl -q -p /etc/sysctl.d/routage.conf
cat > /etc/nftables.conf <<'CONF'
#!/usr/sbin/nft -f
flush ruleset
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr 192.168.50.0/24 oifname "eth0" masquerade
  }
}
CONF
systemctl enable --now nftables
