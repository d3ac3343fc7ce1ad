# The answer key on the workstation: its address on the local network, the router as gateway.
set -e
ip addr add 192.168.50.10/24 dev eth0
ip route add default via 192.168.50.1
