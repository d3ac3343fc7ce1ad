$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Get-LocalGroup -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Get-LocalGroup"}'; exit 0 }
$g = Get-LocalGroup -SID 'S-1-5-32-544' -ErrorAction SilentlyContinue
$r = $null
if ($g) { $r = [pscustomobject]@{ Name = $g.Name; SID = $g.SID.Value; Members = @(Get-LocalGroupMember -SID $g.SID | ForEach-Object { [pscustomobject]@{ Name = $_.Name; SID = $_.SID.Value } }) } }
ConvertTo-Json -InputObject $r -Depth 5 -Compress
