# Typical mistakes, each costing one task:
# - port 80 opened "for the redirect" as well (others-closed);
# - no established,related rule: answers to the server's own connections are dropped (default-drop);
# - the rules loaded by hand, nftables.service left disabled (persistent).
set -e
systemctl disable nftables
sed -i -e '/ct state established,related accept/d' -e 's/tcp dport 443 accept/tcp dport 443 accept\n    tcp dport 80 accept/' /etc/nftables.conf
nft -f /etc/nftables.conf
