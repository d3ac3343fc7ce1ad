$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Get-LocalUser -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Get-LocalUser"}'; exit 0 }
$u = Get-LocalUser -Name 'localadmin' -ErrorAction SilentlyContinue
$r = $null
if ($u) {
  $g = @(Get-LocalGroup | Where-Object { @(Get-LocalGroupMember -SID $_.SID -ErrorAction SilentlyContinue | Where-Object { $_.SID -eq $u.SID }).Count -gt 0 } | ForEach-Object { [pscustomobject]@{ Name = $_.Name; SID = $_.SID.Value } })
  $r = [pscustomobject]@{ Name = $u.Name; SID = $u.SID.Value; Enabled = $u.Enabled; Groups = $g }
}
ConvertTo-Json -InputObject $r -Depth 5 -Compress
