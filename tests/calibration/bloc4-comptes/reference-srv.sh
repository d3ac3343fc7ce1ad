# The answer key of bloc4-comptes.
set -euo pipefail
sed -i -E 's/^\s*PASS_MAX_DAYS\s.*/PASS_MAX_DAYS\t90/' /etc/login.defs
grep -q '^HOME_MODE' /etc/login.defs || echo 'HOME_MODE 0700' >> /etc/login.defs
for g in compta rh direction; do groupadd "$g"; done
useradd -m -s /bin/bash -G compta alice
useradd -m -s /bin/bash -G rh bob
useradd -m -s /bin/bash -G direction carole
useradd -m -s /bin/bash stagiaire
for u in alice bob carole stagiaire; do
  echo "$u:Ch4nge-moi-$u" | chpasswd
  chmod 700 "/home/$u"
done
for u in alice bob carole; do chage -M 90 "$u"; done
usermod -L -s /usr/sbin/nologin stagiaire
echo '%direction ALL=(ALL:ALL) ALL' > /etc/sudoers.d/direction
chmod 0440 /etc/sudoers.d/direction
visudo -c >/dev/null
