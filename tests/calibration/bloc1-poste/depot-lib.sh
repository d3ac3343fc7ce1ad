# Shared by the bloc1 calibrations: how the company repository /srv/depot is built (a flat
# Debian repository of packages made with dpkg-deb) and read. The scripts listed after this
# one in a role's list use these functions.
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
