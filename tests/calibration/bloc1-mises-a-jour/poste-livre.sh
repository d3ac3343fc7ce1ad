# The workstation as delivered: the company repository /srv/depot (a flat Debian repository
# of packages built with dpkg-deb) declared in APT's sources, gestcompta 2.3-1 and
# agent-inventaire 1.0-1 installed from it; then the helpdesk published 2.4-1 and 1.1-1.
set -e
depot_package() {
  local name=$1 version=$2 dir
  dir=$(mktemp -d)
  mkdir -p "$dir/DEBIAN" "$dir/usr/bin" /srv/depot
  cat > "$dir/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: all
Maintainer: Service informatique <si@lab.example>
Description: $name, logiciel de l'entreprise
CONTROL
  printf '#!/bin/sh\necho "%s %s"\n' "$name" "$version" > "$dir/usr/bin/$name"
  chmod 0755 "$dir/usr/bin/$name"
  dpkg-deb --build --root-owner-group "$dir" "/srv/depot/${name}_${version}_all.deb" >/dev/null
  rm -rf "$dir"
}
depot_index() {
  local deb
  : > /srv/depot/Packages
  for deb in /srv/depot/*.deb; do
    {
      dpkg-deb -f "$deb"
      echo "Filename: ./$(basename "$deb")"
      echo "Size: $(stat -c %s "$deb")"
      echo "SHA256: $(sha256sum "$deb" | cut -d' ' -f1)"
      echo
    } >> /srv/depot/Packages
  done
}
# APT restricted to the company repository: a test host has no way out, and must not try.
depot_apt() {
  apt-get -qq -o Dir::Etc::sourcelist=sources.list.d/depot-local.list \
    -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 "$@"
}
echo 'deb [trusted=yes] file:/srv/depot ./' > /etc/apt/sources.list.d/depot-local.list
depot_package gestcompta 2.3-1
depot_package agent-inventaire 1.0-1
depot_index
depot_apt update
depot_apt install -y gestcompta agent-inventaire >/dev/null
depot_package gestcompta 2.4-1
depot_package agent-inventaire 1.1-1
depot_index
