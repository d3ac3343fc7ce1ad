$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Get-DnsServerResourceRecord -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Get-DnsServerResourceRecord"}'; exit 0 }
$rr = @(Get-DnsServerResourceRecord -ZoneName 'lab.local' -Name 'fichiers' -RRType 'A' -ErrorAction SilentlyContinue)
$r = $null
if ($rr.Count -gt 0) { $r = @($rr | ForEach-Object { [pscustomobject]@{ HostName = $_.HostName; RecordType = $_.RecordType; RecordData = $_.RecordData | Select-Object * -ExcludeProperty Cim* } }) }
ConvertTo-Json -InputObject $r -Depth 5 -Compress
