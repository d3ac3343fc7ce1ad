$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Get-DhcpServerv4Scope -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Get-DhcpServerv4Scope"}'; exit 0 }
$id = '192.168.10.0'
$s = Get-DhcpServerv4Scope -ScopeId $id -ErrorAction SilentlyContinue
$r = $null
if ($s) { $r = [pscustomobject]@{ ScopeId = $s.ScopeId.ToString(); SubnetMask = $s.SubnetMask.ToString(); StartRange = $s.StartRange.ToString(); EndRange = $s.EndRange.ToString(); State = $s.State; Options = @(Get-DhcpServerv4OptionValue -ScopeId $id -All | ForEach-Object { [pscustomobject]@{ OptionId = $_.OptionId; Value = @($_.Value) } }); Reservations = @(Get-DhcpServerv4Reservation -ScopeId $id | ForEach-Object { [pscustomobject]@{ IPAddress = $_.IPAddress.ToString(); ClientId = $_.ClientId } }) } }
ConvertTo-Json -InputObject $r -Depth 5 -Compress
