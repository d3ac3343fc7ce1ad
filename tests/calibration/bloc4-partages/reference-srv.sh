# The answer key of bloc4-partages: groups, a setgid group folder with ACLs, a Samba share
# for the group, an NFS export to the LAN and group quotas planned in fstab.
set -euo pipefail
groupadd compta
groupadd direction
useradd -m -s /bin/bash -G compta alice
useradd -m -s /bin/bash bob
useradd -m -s /bin/bash -G direction carole

mkdir -p /srv/partages/compta /srv/partages/commun
chgrp compta /srv/partages/compta
chmod 2770 /srv/partages/compta
setfacl -m g:direction:rx /srv/partages/compta
setfacl -d -m g:direction:rx /srv/partages/compta

cat > /etc/samba/smb.conf <<'CONF'
[global]
  workgroup = LAB
  server role = standalone server
  server min protocol = SMB2
  map to guest = never
  disable netbios = yes
  smb ports = 445
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
[compta]
  path = /srv/partages/compta
  valid users = @compta
  read only = no
  create mask = 0660
  directory mask = 2770
CONF
printf '%s\n%s\n' "$LABGRADE_SECRET_ALICE_SMB" "$LABGRADE_SECRET_ALICE_SMB" | smbpasswd -s -a alice
printf '%s\n%s\n' "$LABGRADE_SECRET_BOB_SMB" "$LABGRADE_SECRET_BOB_SMB" | smbpasswd -s -a bob
systemctl enable smbd
systemctl restart smbd

echo '/srv/partages/commun 10.213.0.0/16(rw,sync,root_squash,no_subtree_check)' > /etc/exports
systemctl enable nfs-server

# Last: no systemctl after this line reloads fstab into a mount unit.
echo '/dev/sdb1 /srv ext4 defaults,usrquota,grpquota 0 2' >> /etc/fstab
for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/445) 2>/dev/null && exit 0; sleep 0.1; done
echo smbd does not answer >&2; exit 1
