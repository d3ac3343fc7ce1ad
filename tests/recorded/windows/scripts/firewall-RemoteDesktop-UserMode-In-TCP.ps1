$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Get-NetFirewallRule -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Get-NetFirewallRule"}'; exit 0 }
$n = 'RemoteDesktop-UserMode-In-TCP'
$f = Get-NetFirewallRule -Name $n -ErrorAction SilentlyContinue
if (-not $f) { $f = Get-NetFirewallRule -DisplayName $n -ErrorAction SilentlyContinue | Select-Object -First 1 }
$r = $null
if ($f) { $pf = $f | Get-NetFirewallPortFilter; $r = [pscustomobject]@{ Name = $f.Name; Enabled = [int]$f.Enabled; Direction = [int]$f.Direction; Action = [int]$f.Action; Protocol = $pf.Protocol; LocalPort = @($pf.LocalPort) } }
ConvertTo-Json -InputObject $r -Depth 5 -Compress
