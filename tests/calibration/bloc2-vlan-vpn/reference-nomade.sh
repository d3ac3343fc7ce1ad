# The roaming laptop's address on its home connection.
set -e
ip addr add 198.51.100.50/24 dev eth0

# The answer key on the roaming laptop: its tunnel to the router's public address.
umask 077
mkdir -p /etc/wireguard
cat > /etc/wireguard/wg0.conf <<'CONF'
[Interface]
Address = 10.99.0.2/24
PrivateKey = IGLLjUNVPfp4mTFKzd3grD557jDKs0whbbK8uVXGxFY=

[Peer]
# routeur
PublicKey = 51JEfC6uPnlcx9Y/8g52p7449l17tRCqcN39AAFq0Eo=
Endpoint = 198.51.100.1:51820
AllowedIPs = 10.99.0.0/24, 192.168.10.0/24
PersistentKeepalive = 25
CONF
umask 022
systemctl enable --now wg-quick@wg0
