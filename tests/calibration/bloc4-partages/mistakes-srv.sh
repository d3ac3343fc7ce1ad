# Typical mistakes: chmod 777 "so that it works", the ACL set on the folder but not as a
# default one (new files do not inherit it), the NFS export opened to everyone.
set -euo pipefail
chmod 0777 /srv/partages/compta
setfacl -k /srv/partages/compta
echo '/srv/partages/commun *(rw,sync,no_root_squash,no_subtree_check)' > /etc/exports
