// Every operation the page runs. Codegen turns each into a typed document whose only content
// is its documentId (the SHA-256 of the text), and lists the text in persisted-documents.json.
import { graphql } from "./gql";

export const PayoutFields = graphql(`
  fragment PayoutFields on Payout {
    id
    status
    amount
    fee
    netAmount
    currency
    description
    createdAt
    paidAt
    failureMessage
  }
`);

export const BalanceFields = graphql(`
  fragment BalanceFields on Balance {
    available
    pending
    inTransit
    paidOut
    currency
  }
`);

export const AccountFields = graphql(`
  fragment AccountFields on PayoutAccount {
    id
    status
    transfersEnabled
    email
    businessType
  }
`);

export const DashboardQuery = graphql(`
  query Dashboard {
    viewer {
      livemode
      organization {
        name
      }
    }
    payoutAccount {
      ...AccountFields
    }
    balance {
      ...BalanceFields
    }
  }
`);

export const BankAccountsQuery = graphql(`
  query BankAccounts {
    bankAccounts(first: 20) {
      edges {
        node {
          id
          last4
          bankName
          accountHolderName
          isDefault
          status
        }
      }
    }
  }
`);

export const PayoutsQuery = graphql(`
  query Payouts($first: Int!, $after: String) {
    payouts(first: $first, after: $after) {
      edges {
        cursor
        node {
          ...PayoutFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const CompleteVerificationMutation = graphql(`
  mutation CompleteVerification($input: CompleteVerificationInput!) {
    completeVerification(input: $input) {
      outcome
      payoutAccount {
        ...AccountFields
      }
      userErrors {
        code
        message
        field
      }
    }
  }
`);

export const AddBankAccountMutation = graphql(`
  mutation AddBankAccount($input: AddBankAccountInput!) {
    addBankAccount(input: $input) {
      bankAccount {
        id
        last4
        isDefault
      }
      userErrors {
        code
        message
        field
      }
    }
  }
`);

export const RequestPayoutMutation = graphql(`
  mutation RequestPayout($input: RequestPayoutInput!) {
    requestPayout(input: $input) {
      payout {
        ...PayoutFields
      }
      userErrors {
        code
        message
        field
      }
    }
  }
`);

export const PayoutUpdatedSubscription = graphql(`
  subscription PayoutUpdated($after: String) {
    payoutUpdated(after: $after) {
      cursor
      type
      payout {
        ...PayoutFields
      }
    }
  }
`);

export const BalanceUpdatedSubscription = graphql(`
  subscription BalanceUpdated($after: String) {
    balanceUpdated(after: $after) {
      cursor
      balance {
        ...BalanceFields
      }
    }
  }
`);

export const AccountUpdatedSubscription = graphql(`
  subscription AccountUpdated($after: String) {
    payoutAccountUpdated(after: $after) {
      cursor
      type
      payoutAccount {
        ...AccountFields
      }
    }
  }
`);
