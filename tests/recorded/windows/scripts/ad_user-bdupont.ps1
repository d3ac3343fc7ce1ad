$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false
if (-not (Get-Command Get-ADUser -ErrorAction SilentlyContinue)) { '{"labgrade_missing":"Get-ADUser"}'; exit 0 }
$n = 'bdupont'
$r = Get-ADUser -Filter 'SamAccountName -eq $n' -Properties MemberOf | Select-Object -First 1 SamAccountName,DistinguishedName,Enabled,UserPrincipalName,GivenName,Surname,MemberOf
ConvertTo-Json -InputObject $r -Depth 5 -Compress
