# The router's public address, given by the access provider.
set -e
ip addr add 198.51.100.1/24 dev eth0

# The answer key on the router. Keys are fixed so that each machine's script knows the
# other's public key: this router's is 51JEfC6uPnlcx9Y/8g52p7449l17tRCqcN39AAFq0Eo=.
cat >> /etc/network/interfaces <<'CONF'

auto eth0.10
iface eth0.10 inet static
    address 192.168.10.1/24
    vlan-raw-device eth0

auto eth0.20
iface eth0.20 inet static
    address 192.168.20.1/24
    vlan-raw-device eth0
CONF
cat > /etc/default/isc-dhcp-relay <<'CONF'
SERVERS="192.168.10.5"
INTERFACES="eth0.10 eth0.20"
OPTIONS=""
CONF
umask 077
mkdir -p /etc/wireguard
cat > /etc/wireguard/wg0.conf <<'CONF'
[Interface]
Address = 10.99.0.1/24
ListenPort = 51820
PrivateKey = yIFD9ss1OITQnoNBCpGSjr6ybWxxqbpftEGeRqL7XXE=

[Peer]
# nomade
PublicKey = +sbiTk4cKcGiVKCLY/UZ6aplO2RUjd/vHEV1oqep+XI=
AllowedIPs = 10.99.0.2/32
CONF
umask 022
# No wireguard module in the test host's kernel: wg-quick falls back to wireguard-go.
systemctl enable --now wg-quick@wg0
