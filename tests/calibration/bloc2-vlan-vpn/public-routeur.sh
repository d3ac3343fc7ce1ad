# The router's public address, given by the access provider.
set -e
ip addr add 198.51.100.1/24 dev eth0
