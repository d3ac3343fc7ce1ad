# The roaming laptop's address on its home connection.
set -e
ip addr add 198.51.100.50/24 dev eth0
