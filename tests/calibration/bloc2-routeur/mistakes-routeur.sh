# Typical mistakes on the router:
# - forwarding switched on with sysctl -w only, lost at the next boot (forwarding);
# - no NAT: the provider's server cannot answer the local network (nat, internet-access);
# - the remote site's route declared on-link (dev eth0), without the remote router as gateway
#   (static-route).
set -e
rm /etc/sysctl.d/routage.conf
systemctl disable --now nftables
nft flush ruleset
ip route replace 172.16.20.0/24 dev eth0
