package models

// MaxOwnerIDs and MaxHostIDs let tests lower the filters' id-list bounds.
var (
	MaxOwnerIDs = &maxOwnerIDs
	MaxHostIDs  = &maxHostIDs
)
