$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Get-Acl -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Get-Acl"}'; exit 0 }
$p = 'D:\Partages\Compta'
$r = $null
if (Test-Path -LiteralPath $p) {
  $i = Get-Item -LiteralPath $p -Force
  $a = Get-Acl -LiteralPath $p
  $sid = { param($n) try { $n.Translate([System.Security.Principal.SecurityIdentifier]).Value } catch { $null } }
  $r = [pscustomobject]@{ Directory = $i.PSIsContainer; Owner = (& $sid ([System.Security.Principal.NTAccount]$a.Owner)); Protected = $a.AreAccessRulesProtected; Access = @($a.Access | ForEach-Object { [pscustomobject]@{ Name = $_.IdentityReference.Value; SID = (& $sid $_.IdentityReference); Rights = [int64]$_.FileSystemRights; Type = [int]$_.AccessControlType; Inherited = $_.IsInherited } }) }
}
ConvertTo-Json -InputObject $r -Depth 5 -Compress
