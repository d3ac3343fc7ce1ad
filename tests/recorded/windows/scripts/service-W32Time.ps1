$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Get-Service -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Get-Service"}'; exit 0 }
$r = Get-Service -Name 'W32Time' -ErrorAction SilentlyContinue | Select-Object Name,DisplayName,Status,StartType
ConvertTo-Json -InputObject $r -Depth 5 -Compress
