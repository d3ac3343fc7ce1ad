$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Get-WindowsFeature -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Get-WindowsFeature"}'; exit 0 }
$r = Get-WindowsFeature -Name 'DHCP' | Select-Object Name,InstallState
ConvertTo-Json -InputObject $r -Depth 5 -Compress
