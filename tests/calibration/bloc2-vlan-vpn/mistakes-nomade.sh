# Typical mistake on the roaming laptop: the router's port mistyped in Endpoint, so the
# handshake never happens (tunnel), though the router is configured right.
set -e
sed -i 's/^Endpoint = 198\.51\.100\.1:51820$/Endpoint = 198.51.100.1:51802/' /etc/wireguard/wg0.conf
grep -q ':51802$' /etc/wireguard/wg0.conf
systemctl restart wg-quick@wg0
