$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Get-NetTCPConnection -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Get-NetTCPConnection"}'; exit 0 }
$r = @(Get-NetTCPConnection -LocalPort '3389' -State Listen -ErrorAction SilentlyContinue | ForEach-Object { [pscustomobject]@{ LocalAddress = $_.LocalAddress; Process = (Get-Process -Id $_.OwningProcess).ProcessName } })
ConvertTo-Json -InputObject $r -Depth 5 -Compress
