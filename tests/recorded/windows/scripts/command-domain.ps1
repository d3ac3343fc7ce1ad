$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Out-String -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Out-String"}'; exit 0 }
$r = try { $o = & ([scriptblock]::Create('(Get-CimInstance Win32_ComputerSystem).Domain')) | Out-String; [pscustomobject]@{ Succeeded = $true; Output = $o.TrimEnd() } } catch { [pscustomobject]@{ Succeeded = $false; Output = $_.Exception.Message } }
ConvertTo-Json -InputObject $r -Depth 5 -Compress
