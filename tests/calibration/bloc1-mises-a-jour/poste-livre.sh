# The workstation as delivered: the company repository /srv/depot (a flat Debian repository
# of packages built with dpkg-deb) declared in APT's sources, gestcompta 2.3-1 and
# agent-inventaire 1.0-1 installed from it; then the helpdesk published 2.4-1 and 1.1-1.
set -e
echo 'deb [trusted=yes] file:/srv/depot ./' > /etc/apt/sources.list.d/depot-local.list
depot_package gestcompta 2.3-1
depot_package agent-inventaire 1.0-1
depot_index
depot_apt update
depot_apt install -y gestcompta agent-inventaire >/dev/null
depot_package gestcompta 2.4-1
depot_package agent-inventaire 1.1-1
depot_index
