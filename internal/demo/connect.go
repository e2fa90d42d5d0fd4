package demo

import _ "embed"

// seedSalesforce gives crm a Heroku Connect-like schema, salesforce.
//
//go:embed seed_salesforce.sql
var seedSalesforce string
