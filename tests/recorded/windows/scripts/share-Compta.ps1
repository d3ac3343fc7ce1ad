$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Get-SmbShare -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Get-SmbShare"}'; exit 0 }
$s = Get-SmbShare -Name 'Compta' -ErrorAction SilentlyContinue
$r = $null
if ($s) { $r = [pscustomobject]@{ Name = $s.Name; Path = $s.Path; Access = @(Get-SmbShareAccess -Name $s.Name | ForEach-Object { $sid = try { ([System.Security.Principal.NTAccount]$_.AccountName).Translate([System.Security.Principal.SecurityIdentifier]).Value } catch { $null }; [pscustomobject]@{ Name = $_.AccountName; SID = $sid; AccessControlType = [int]$_.AccessControlType; AccessRight = [int]$_.AccessRight } }) } }
ConvertTo-Json -InputObject $r -Depth 5 -Compress
