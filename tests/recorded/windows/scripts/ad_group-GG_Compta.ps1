$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Get-ADGroup -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Get-ADGroup"}'; exit 0 }
$n = 'GG_Compta'
$g = Get-ADGroup -Filter 'SamAccountName -eq $n' | Select-Object -First 1
$r = $null
if ($g) { $r = [pscustomobject]@{ SamAccountName = $g.SamAccountName; DistinguishedName = $g.DistinguishedName; GroupScope = [int]$g.GroupScope; GroupCategory = [int]$g.GroupCategory; Members = @(Get-ADGroupMember -Identity $g | ForEach-Object { $_.SamAccountName }) } }
ConvertTo-Json -InputObject $r -Depth 5 -Compress
